"""信访: petitions received by visit, letter, online or hotline; their acceptance and conclusion
time limits under 《信访工作条例》 (2022), repeat-petition detection, the repeat-petition 销号
campaign (体检会诊, plan, 销号) and the follow-up of 重点信访人员. API under /api/v1/petitions/."""
