"""防止返贫动态监测: monitored households, their entry and exit steps, plan, visits and figures."""
