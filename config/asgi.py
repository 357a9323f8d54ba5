import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
# Serve nothing without a secret key: reading an empty one raises Django's "The SECRET_KEY
# setting must not be empty" (settings leave it empty when DEBUG is off and none is given).
_ = settings.SECRET_KEY
