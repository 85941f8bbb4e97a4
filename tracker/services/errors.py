class ConcurrentUpdateError(Exception):
    """The row changed after the caller read it; saving would overwrite someone's edit."""

    def __init__(self, *, label: str, expected: int, current: int):
        self.expected = expected
        self.current = current
        super().__init__(
            f"This {label} was changed by someone else after you loaded it "
            f"(you edited version {expected}; it is now at version {current}). "
            "Reload it and apply your change again."
        )
