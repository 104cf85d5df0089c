"""The bounded memory of handled event ids."""

from __future__ import annotations

from precinct.core.recent import RecentIds


def test_an_id_is_new_once_until_it_is_forgotten() -> None:
    recent = RecentIds(3)
    assert [recent.add(i) for i in (1, 2, 1, 3)] == [True, True, False, True]
    assert recent.add(4)  # 1 is now the oldest of four: forgotten
    assert recent.add(1)
    assert not recent.add(4)
