import hashlib

from humanorai.members.base import TextBatch
from humanorai.scoring.cache import LRUCache, cache_key


def test_least_recently_used_entry_goes_first() -> None:
    cache: LRUCache[int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)


def test_capacity_zero_disables_the_cache() -> None:
    cache: LRUCache[int] = LRUCache(0)
    cache.put("a", 1)
    assert cache.get("a") is None


def test_key_follows_the_normalised_text_and_the_bundle() -> None:
    spaced, plain, lower = TextBatch(["Hello   world\n", "Hello world", "hello world"]).texts
    assert cache_key(spaced, "b1") == cache_key(plain, "b1")
    assert cache_key(plain, "b1") != cache_key(lower, "b1")
    assert cache_key(plain, "b1") == "b1:" + hashlib.sha256(b"Hello world").hexdigest()
    assert cache_key("Hello world", "b1") != cache_key("Hello world", "b2")
