"""Pages of the 红色网格 cycle, mounted in the cases namespace (cases:cycles_*)."""

from django.urls import path

from jiedao.cases.cycles import views

urlpatterns = [
    path("cycles/", views.weekly, name="cycles_weekly"),
    path("cycles/weekly/generate/", views.weekly_generate, name="cycles_weekly_generate"),
    path("cycles/meetings/", views.meetings, name="cycles_meetings"),
    path("cycles/meetings/prepare/", views.meeting_prepare, name="cycles_meeting_prepare"),
    path("cycles/meetings/<int:pk>/", views.meeting_detail, name="cycles_meeting"),
    path("cycles/meetings/<int:pk>/save/", views.meeting_save, name="cycles_meeting_save"),
    path("cycles/meetings/<int:pk>/add/", views.meeting_add_case, name="cycles_meeting_add"),
    path("cycles/meetings/<int:pk>/refresh/", views.meeting_refresh, name="cycles_meeting_refresh"),
    path("cycles/meetings/<int:pk>/items/<int:item_pk>/remove/", views.meeting_remove_item,
         name="cycles_meeting_remove"),
    path("cycles/meetings/<int:pk>/minutes.docx", views.meeting_minutes, name="cycles_meeting_minutes"),
    path("cycles/decisions/", views.decisions, name="cycles_decisions"),
    path("cycles/decisions/<int:item_pk>/done/", views.decision_done, name="cycles_decision_done"),
    path("cycles/reviews/", views.reviews, name="cycles_reviews"),
    path("cycles/reviews/prepare/", views.review_prepare, name="cycles_review_prepare"),
    path("cycles/reviews/<int:pk>/", views.review_detail, name="cycles_review"),
    path("cycles/reviews/<int:pk>/items/<int:item_pk>/", views.review_item, name="cycles_review_item"),
    path("cycles/reviews/<int:pk>/finalize/", views.review_finalize, name="cycles_review_finalize"),
    path("cycles/reports/", views.report, name="cycles_report"),
    path("cycles/reports/download.<str:kind>", views.report_download, name="cycles_report_download"),
]
