"""Dictionary encoding: strings (programme ids, recipient codes, agencies) to dense codes."""

from collections.abc import Callable, Iterable

from schemas.errors import IntegrityFailure


class StringDictionary:
    """Codes in first-seen order; a code never changes once given."""

    def __init__(self, name: str, values: Iterable[str] = (), *, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.values: list[str] = []
        self._codes: dict[str, int] = {}
        # The bound lookup, for hot loops that cannot afford a method call per value.
        self.lookup: Callable[[str], int | None] = self._codes.get
        for value in values:
            self.code(value)

    def code(self, value: str) -> int:
        """The code of `value`, given a new one the first time."""
        code = self._codes.get(value)
        if code is None:
            code = len(self.values)
            if code > self.limit:
                raise IntegrityFailure(
                    self.name, value, f"more than {self.limit} distinct values in the replay store"
                )
            self._codes[value] = code
            self.values.append(value)
        return code

    def find(self, value: str) -> int | None:
        """The code of `value`, or None when it was never seen."""
        return self._codes.get(value)

    def __len__(self) -> int:
        return len(self.values)
