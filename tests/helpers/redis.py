"""The Redis the tests share: 127.0.0.1:6379, or FAREGATE_TEST_REDIS_URL.

Tests keep to keys and channels of their own there (random prefixes, device ids, lot ids;
channels named after their private database), since other test processes and runs use the
same server. A test that must disturb the server itself (drop its clients, stop it) starts a
private one instead (`faregate.redis_runtime.private_redis`).
"""

from __future__ import annotations

import os

LOCAL_REDIS = os.environ.get("FAREGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
