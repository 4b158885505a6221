"""The counts read back: `stats.Stats` (any range, filters, routes, visitors now), `ranges` (which
days a read covers), `bounded` and `topscript` (range reads in steps of bounded work), `snapshot`
(one page's data and its JSON document), `report` (the text rendering), `routes` (route rows from
counts and sketches), `countries` (country names), `where` (a filter written
``DIMENSION:MEMBER``)."""
