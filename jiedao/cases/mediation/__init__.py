"""联席会议: level 3 of 三级调处 — the sub-district's 信访联席会议, which takes the cases escalated
to it and decides, case by case, which department leads, which co-operate, and by when."""
