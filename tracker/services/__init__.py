"""Every write to the record. Each public function is one transaction that saves the row(s)
and appends the events describing the change; admin, API, commands and tasks call these.
"""
