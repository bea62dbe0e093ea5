"""The /api/v1 root (django-ninja). Domain apps contribute routers."""

from ninja import NinjaAPI

api = NinjaAPI(title="Jiedao API", version="1", urls_namespace="api")
