"""The reference directory service: the national children's contact directory.

It knows only the canonical contract (``contract/directory.wsdl`` and ``.xsd``)
and its own rules; it never imports the adapter. Modules:

* :mod:`.tables` and :mod:`.db` — the store (SQLAlchemy models, engine, migrations);
* :mod:`.matching` — resolves a source's view of a child to a directory record;
* :mod:`.service` — one function per SOAP operation;
* :mod:`.records` — the view of a child record a given user may see;
* :mod:`.auth` — WS-Security UsernameToken accounts and the onBehalfOf header;
* :mod:`.app` — the FastAPI application serving the SOAP endpoint and the WSDL.
"""
