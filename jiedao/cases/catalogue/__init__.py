"""The case catalogue: categories, routing rules, time limits and the deadline watch (SLA),
and the holiday table working days are counted with."""
