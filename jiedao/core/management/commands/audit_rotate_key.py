"""`jiedao audit rotate-key`: a new HMAC-SM3 key signs the audit chains from now on; the old key
stays in the keyring, retired, so the rows it signed keep verifying. Safe while the platform runs."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("轮换审计链的 HMAC-SM3 密钥：此后的记录用新密钥签名，旧密钥留在密钥文件中用于校验旧记录"
            " / rotate the audit chains' HMAC-SM3 key; the old key is kept to verify older rows")

    def handle(self, *args, **options):
        from jiedao.core import audit

        until = audit.rotate_key()
        self.stdout.write(
            f"已轮换审计密钥：{len(until)} 条链，旧密钥签到 "
            + "，".join(f"{chain}#{seq}" for chain, seq in sorted(until.items()))
            + " / audit key rotated; back up the keyring now"
        )
