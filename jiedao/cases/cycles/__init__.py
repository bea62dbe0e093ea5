"""The three cycles of the 红色网格 loop: 周集 weekly digest, 月议 monthly deliberation, 季末 review
and the quarterly report."""
