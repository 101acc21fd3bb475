"""Builds and drops large dicts, lists and strings, as a program's data structures do.

Prints one line per phase; the output depends only on the work, never on the allocator.
"""
import hashlib

ROUNDS = 4
ITEMS = 100_000

digest = hashlib.sha256()
for round_ in range(ROUNDS):
    # A dict of short strings, then a list of longer ones built from it.
    table = {i: f"key-{i}-{round_}" * (1 + i % 3) for i in range(ITEMS)}
    rows = [value.upper() for value in table.values() if len(value) % 2 == 0]
    # One large string joined from the list, then split back into words.
    text = "\n".join(rows)
    words = text.split("-")
    digest.update(text[:: 997].encode())
    print(round_, len(table), len(rows), len(text), len(words))
    # Dropped whole: the allocator gets the memory back at once.
    del table, rows, text, words

print(digest.hexdigest())
