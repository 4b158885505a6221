"""The counts read back: `stats.Stats` (range reads summed in Redis by `topscript`), `snapshot`
(one page's data and its JSON document), `report` (the text rendering)."""
