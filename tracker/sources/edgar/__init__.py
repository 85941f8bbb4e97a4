"""The EDGAR importer: fetch a company's submissions (``client``), read them (``parse``), map
them to IPO steps (``mapping``) and write them through the services (``sync``); the
current-filings feed (``feed``) says which followed companies to sync now."""
