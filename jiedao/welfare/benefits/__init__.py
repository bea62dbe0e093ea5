"""Benefits and subsidies (救助补贴): programmes, grants with their reviews and state, payments
recorded or imported from the civil-affairs xlsx, and the totals in the work reports' terms."""
