#!/usr/bin/env bash
# Jiedao developer entry point.
#   ./dev.sh demo   install everything, then start the platform on SQLite with the demo sub-district
#   ./dev.sh test   install everything, then run the whole test suite (lint, migrations, SQLite, PostgreSQL)
#   ./dev.sh setup  install everything only
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31m错误 / error: %s\033[0m\n' "$*" >&2; exit 1; }

find_python() {
  for candidate in "${PYTHON:-}" python3.11 "$HOME/.pyenv/versions/3.11.7/bin/python3" python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  die "需要 Python 3.11 / Python 3.11 is required (set PYTHON=/path/to/python3.11)"
}

apt_install() {
  # System packages the tests and rendering need: a browser and its driver, Chinese fonts, gettext.
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
  fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || missing+=(fonts-noto-cjk)
  # The official-document faces of the docx reports (仿宋, 楷体), mapped by deploy/fontconfig.
  fc-list 2>/dev/null | grep -qi 'cwTeXFangSong' || missing+=(fonts-cwtex-fs)
  fc-list 2>/dev/null | grep -qi 'AR PL KaitiM GB' || missing+=(fonts-arphic-gkai00mp)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "安装系统软件包 / installing system packages: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "提示 / note: missing system packages ${missing[*]} (install them with apt-get as root)" >&2
  fi
}

setup() {
  local py; py=$(find_python)
  [ -x .venv/bin/python ] || { say "创建虚拟环境 / creating .venv"; "$py" -m venv .venv; }
  local stamp=.venv/.jiedao-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "安装 Python 依赖 / installing Python packages"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch "$stamp"
  fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "安装前端依赖 / installing front-end packages (npm)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  if command -v msgfmt >/dev/null 2>&1; then
    (cd jiedao && ../.venv/bin/django-admin compilemessages -v 0 --ignore='.venv' 2>/dev/null) || true
  fi
  install_fontconfig
}

install_fontconfig() {
  # Map the GB/T 9704 font names of the docx reports (仿宋_GB2312, 楷体_GB2312, 方正小标宋简体, 黑体) to
  # the free faces apt_install puts in, so LibreOffice renders the documents (docs/operator-guide.md).
  local conf=deploy/fontconfig/65-jiedao-gbt9704.conf target=/etc/fonts/conf.d/65-jiedao-gbt9704.conf
  if [ -f "$target" ] && cmp -s "$conf" "$target"; then return; fi
  if [ "$(id -u)" = 0 ] && [ -d /etc/fonts/conf.d ]; then
    install -m 0644 "$conf" "$target" && { fc-cache -f >/dev/null 2>&1 || true; }
  else
    mkdir -p "$HOME/.config/fontconfig/conf.d"
    cp "$conf" "$HOME/.config/fontconfig/conf.d/" && { fc-cache -f >/dev/null 2>&1 || true; }
  fi
}

run_tests() {
  apt_install
  setup
  say "ruff"
  .venv/bin/ruff check .
  say "makemigrations --check"
  JIEDAO_DATA_DIR="$(mktemp -d)" .venv/bin/python manage.py makemigrations --check --dry-run
  # The queue tests (tests/core/test_queue.py) need Redis: JIEDAO_TEST_QUEUE_URL, default db 5 on
  # this machine. They skip without it, except under CI=true, where they fail.
  local queue_url="${JIEDAO_TEST_QUEUE_URL:-redis://127.0.0.1:6379/5}"
  if ! .venv/bin/python -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()" \
      "$queue_url" 2>/dev/null; then
    if [ "${CI:-}" = "true" ]; then
      die "CI=true 但无法连接 Redis（${queue_url}）/ Redis is required under CI (set JIEDAO_TEST_QUEUE_URL)"
    fi
    echo "警告 / WARNING: Redis 不可用（${queue_url}），跳过任务队列测试 / the queue tests will be skipped" >&2
  fi
  export JIEDAO_TEST_QUEUE_URL="$queue_url"
  say "pytest (SQLite)"
  JIEDAO_DATA_DIR="$(mktemp -d)" .venv/bin/pytest -n 2 -m "not browser" "$@"
  say "pytest (SQLite, real browser)"
  # Alone, not beside the parallel run: timing-sensitive pages stay deterministic on 2 cores.
  JIEDAO_DATA_DIR="$(mktemp -d)" .venv/bin/pytest -m browser "$@"
  local pg_url="${JIEDAO_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/jiedao}"
  if .venv/bin/python - "$pg_url" <<'PY'
import sys, psycopg, urllib.parse as u
p = u.urlparse(sys.argv[1])
try:
    psycopg.connect(host=p.hostname, port=p.port or 5432, user=p.username, password=p.password,
                    dbname="postgres", connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL unreachable: {exc}", file=sys.stderr); sys.exit(1)
PY
  then
    say "pytest (PostgreSQL: ${pg_url})"
    JIEDAO_DATA_DIR="$(mktemp -d)" JIEDAO_DATABASE_URL="$pg_url" .venv/bin/pytest -n 2 -m "not browser" "$@"
  elif [ "${CI:-}" = "true" ]; then
    die "CI=true 但无法连接 PostgreSQL（${pg_url}）/ PostgreSQL is required under CI"
  else
    echo "警告 / WARNING: PostgreSQL 不可用，跳过 PostgreSQL 测试 / skipped the PostgreSQL run" >&2
  fi
}

case "${1:-}" in
  demo) shift; setup; exec .venv/bin/jiedao demo "$@" ;;
  test) shift; run_tests "$@" ;;
  setup) setup ;;
  *) echo "用法 / usage: ./dev.sh demo|test|setup"; exit 2 ;;
esac
