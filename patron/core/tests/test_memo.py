from patron.core.memo import RecentlyUsed


def test_the_least_recently_used_value_is_dropped_first():
    memo: RecentlyUsed[int] = RecentlyUsed(2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == (True, 1)  # "a" is now the most recently used
    memo.put("c", 3)
    assert (memo.get("a"), memo.get("b"), memo.get("c")) == ((True, 1), (False, None), (True, 3))
    assert len(memo) == 2


def test_none_is_kept_as_a_value_and_clear_forgets_everything():
    memo: RecentlyUsed[None] = RecentlyUsed(4)
    memo.put("nothing", None)
    assert memo.get("nothing") == (True, None)
    memo.clear()
    assert memo.get("nothing") == (False, None)
    assert len(memo) == 0
