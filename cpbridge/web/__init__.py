"""The directory's two faces for people: the secure web link (``/web``) and the embeddable panel (``/embed``).

* :func:`create_web_app` — sign in with password, PIN and security code; search; read
  a record; override a shield; the management team's pages.
* :func:`create_embed_app` — the panel a local case system shows in its own screen,
  launched with a context signed by its system account (:func:`mint_context`).

Both call the directory's service functions in-process, as the signed-in user or the
practitioner the system vouches for, so every directory rule applies.
"""

from .embed import create_embed_app, mint_context, register_context, verify_context
from .link import create_web_app

__all__ = ["create_embed_app", "create_web_app", "mint_context", "register_context", "verify_context"]
