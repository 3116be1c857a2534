# The console's image: the web app (gunicorn + WhiteNoise) and the Celery worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 IAMCONSOLE_STATE_DIR=/var/lib/iam-console
WORKDIR /app
RUN useradd --system --home /app --shell /usr/sbin/nologin console \
    && mkdir -p /var/lib/iam-console && chown console /var/lib/iam-console
COPY pyproject.toml ./
COPY iamconsole ./iamconsole
COPY users ./users
RUN pip install --no-cache-dir .
COPY manage.py ./
COPY templates ./templates
COPY static ./static
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
USER console
EXPOSE 8000
CMD ["gunicorn", "iamconsole.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--keep-alive", "75"]
