"""Follow-up (回访): the citizen's rating by code and the dispatcher's call close or reopen a case."""
