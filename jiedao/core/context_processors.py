from django.conf import settings


def platform(request):
    return {"SITE_NAME": settings.JIEDAO_SITE_NAME}
