"""A real Celery worker takes the portal's tasks from Redis and works on the real database."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.utils import timezone

from portal.celery import QUEUES
from portal.celery import app as celery_app
from portal.identity import jpki, services
from portal.identity.models import SigningKind, SigningRequest
from portal.identity.tasks import purge_signing_requests, refresh_crl
from tests.integration.conftest import running_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_every_declared_queue_has_a_consumer(celery_worker):
    replies = celery_app.control.inspect(timeout=2).active_queues() or {}
    consumed = {queue["name"] for queues in replies.values() for queue in queues}
    assert set(QUEUES) <= consumed


def test_worker_purges_expired_signing_requests(celery_worker):
    old = services.login_start(browser_key="k")
    SigningRequest.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=2))
    fresh = services.login_start(browser_key="k")

    purge_signing_requests.delay()
    wait_until(
        lambda: not SigningRequest.objects.filter(pk=old.pk).exists(),
        timeout=20,
        what="the worker to purge the expired request",
    )
    assert SigningRequest.objects.filter(pk=fresh.pk, kind=SigningKind.LOGIN).exists()


@pytest.fixture
def crl_server(jpki_env):
    """The CA's CRL over real HTTP, as the card app publishes it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.end_headers()
            self.wfile.write(jpki_env.crl_der)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ca/crl.der"
    server.shutdown()


@pytest.fixture
def worker_with_crl(worker_environment, crl_server, jpki_env, tmp_path):
    """A second, short-lived worker on its own queue, trusting the test CA and fetching its CRL."""
    environment = {
        **worker_environment,
        "JPKI_TRUST_ANCHORS": str(jpki_env.ca_cert_path),
        "JPKI_CRL_URL": crl_server,
    }
    with running_worker(environment, queues=("crl-test",), name="crl-test", log_path=tmp_path / "w.log") as p:
        yield p


def test_worker_refreshes_the_crl_into_the_shared_cache(worker_with_crl, jpki_env):
    cache.delete(jpki.CRL_CACHE_KEY)
    refresh_crl.apply_async(queue="crl-test")
    stored = wait_until(
        lambda: cache.get(jpki.CRL_CACHE_KEY), timeout=30, what="the worker to store the CRL in Redis"
    )
    assert stored == jpki_env.crl_der
