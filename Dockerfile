# The tracker's one image: web (gunicorn), workers, beat and the one-shot migrate all run it
# with different commands (compose.yaml). Slim, runs as an unprivileged user, static files
# collected at build so the web needs nothing writable.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY tracker ./tracker
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
# PYTHONPATH: the code under /app (beside templates/) wins over the copy pip installed.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PYTHONPATH=/app
RUN groupadd --system tracker && useradd --system --gid tracker --home-dir /app tracker
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY manage.py ./
COPY config ./config
COPY tracker ./tracker
COPY templates ./templates
# collectstatic reads the settings, which require these; dummies are enough to copy files
# and are not kept in the image's environment.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=sqlite:////tmp/unused.sqlite3 \
    EMAIL_URL=consolemail:// ALLOWED_HOSTS=localhost SITE_URL=https://localhost \
    FIELD_ENCRYPTION_KEY=Y29sbGVjdHN0YXRpYy1vbmx5LWR1bW15LWtleS0wMDA= \
    python manage.py collectstatic --noinput \
    && chown -R tracker:tracker /app/var
USER tracker
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
