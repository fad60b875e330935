from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from config import runtime

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
runtime.gc_tune()  # what a web worker has loaded stays out of the collector's way (config/runtime.py)
