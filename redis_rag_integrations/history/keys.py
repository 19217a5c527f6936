"""Where a session lives in Redis, and the server-side scripts that change it atomically.

Every key of a session carries the session id as its cluster hash tag, ``{session_id}``, so all of them sit in one
slot: a MULTI or a script over them works on Redis Cluster too.

=================================== ======= =============================================================
``{prefix}:{sid}``                  LIST    the active messages, oldest first (the session itself)
``{prefix}:{sid}:archived``         LIST    messages moved out of the active window (LlamaIndex ``Memory``)
``{prefix}:{sid}:recalled``         SET     entry ids already processed by relevant recall
``{prefix}:{sid}:recall_dirty``     STRING  set when entries were removed or rewritten (recall resyncs)
``{prefix}:{sid}:recall_fresh``     STRING  present while the recall entries' TTLs are recent enough
``{prefix}-recall:{sid}:{entry id}`` HASH    one embedded message for the recall index (derived data)
=================================== ======= =============================================================

Why a LIST: RPUSH is one atomic command, so concurrent writers (threads or processes) never lose a message and
the server's order is the one total order every reader sees; LRANGE with negative indexes reads the last N in
O(N); LPOP / LTRIM trim from the old end. It needs no module, so plain history runs on any Redis >= 6.2.
A stream would also order writes, but trimming by count, deleting one message and rewriting a session are
clumsier, and its ids carry no meaning we need.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import tenancy
from .errors import InvalidSessionIdError

DEFAULT_PREFIX = "chat"
MAX_SESSION_ID_LENGTH = 512


def check_session_id(session_id: str) -> str:
    """``session_id`` if it can name a session, else :class:`InvalidSessionIdError` saying why."""
    if not isinstance(session_id, str):
        raise InvalidSessionIdError(f"session id must be a string, got {type(session_id).__name__}")
    if not session_id:
        raise InvalidSessionIdError("session id must not be empty")
    if "{" in session_id or "}" in session_id:
        raise InvalidSessionIdError(
            f"session id {session_id!r} contains '{{' or '}}', which delimit the cluster hash tag of its keys"
        )
    if "\x00" in session_id:
        # Search 2.10 returns no fields for a key holding NUL, so relevant recall would find nothing for the session.
        raise InvalidSessionIdError(f"session id {session_id!r} contains a NUL character")
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise InvalidSessionIdError(f"session id is {len(session_id)} characters, above {MAX_SESSION_ID_LENGTH}")
    return session_id


@dataclass(frozen=True)
class SessionKeys:
    """The keys of one session (all in one cluster slot)."""

    session_id: str
    active: str
    archived: str
    recalled: str
    recall_dirty: str
    recall_fresh: str
    recall_prefix: str

    def all_plain(self) -> list[str]:
        """Every plain key (scripts take them in this order: active, archived, recalled, recall_dirty, ...)."""
        return [self.active, self.archived, self.recalled, self.recall_dirty, self.recall_fresh]

    def refreshed_on_write(self) -> list[str]:
        """The keys whose TTL every write refreshes (recall_fresh deliberately not: it times recall's refresh)."""
        return [self.active, self.archived, self.recalled, self.recall_dirty]


@dataclass(frozen=True)
class SessionLayout:
    """Key names under one prefix; with a tenant, under the tenant's hash tag: ``rag:{t}:chat:{sid}``.

    With a tenant, the tenant's tag (the first one in the key) decides the slot, so all sessions of a tenant sit
    on its shard; ``{sid}`` stays in the name as its delimiter (a session id never holds braces).
    """

    prefix: str = DEFAULT_PREFIX
    tenant: tenancy.Tenant | None = None

    def __post_init__(self) -> None:
        if not self.prefix or any(c.isspace() or c in "{}*?[]" for c in self.prefix):
            raise ValueError(
                f"history prefix must be non-empty, without spaces, braces or glob characters: {self.prefix!r}"
            )
        if self.tenant is None:
            tenancy.check_untenanted(self.prefix, "history prefix")

    @property
    def root(self) -> str:
        """The prefix the keys really start with: ``prefix``, or ``rag:{t}:prefix`` for a tenant."""
        return self.prefix if self.tenant is None else self.tenant.scoped(self.prefix)

    def session(self, session_id: str) -> SessionKeys:
        tag = "{" + check_session_id(session_id) + "}"
        base = f"{self.root}:{tag}"
        return SessionKeys(
            session_id=session_id,
            active=base,
            archived=f"{base}:archived",
            recalled=f"{base}:recalled",
            recall_dirty=f"{base}:recall_dirty",
            recall_fresh=f"{base}:recall_fresh",
            recall_prefix=f"{self.recall_key_prefix}{tag}:",
        )

    @property
    def recall_key_prefix(self) -> str:
        return f"{self.root}-recall:"

    @property
    def scan_pattern(self) -> str:
        # Braces are literal in Redis globs: this matches the active lists only, never the :archived/... keys.
        return f"{self.root}:{{*}}"

    @property
    def scan_pattern_lists(self) -> str:
        """Matches a session's message lists, active and archived (SCAN it with ``TYPE list``: the ``:recalled``
        SET and the STRING markers also match)."""
        return f"{self.root}:{{*}}*"

    def session_id_of_list(self, key: str) -> str | None:
        """The session of an active or an archived list's key, else None."""
        return self.session_id_of(key.removesuffix(":archived"))

    def session_id_of(self, key: str) -> str | None:
        head = f"{self.root}:{{"
        if key.startswith(head) and key.endswith("}") and "}" not in key[len(head) : -1]:
            return key[len(head) : -1]
        return None


# KEYS = SessionKeys.all_plain(); ARGV[1] ttl seconds (0 = none).
_TTL_LUA = """
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ttl) end
end
"""

# Move the oldest ARGV[2] active messages to the archive, in insertion order (the entries' "seq", see order.py);
# returns them. Usually they are newer than the whole archive (one RPUSH each); when the archive holds newer
# entries (added as archived), the two are merged and the archive rewritten. Seqs are compared as digit strings
# (19 digits do not fit a Lua double); an entry without one takes the seq before it in its list.
ARCHIVE_OLDEST_LUA = (
    """
local function seq_of(v, previous)
  local s = string.match(v, ',"seq":(%d+)}$')
  return s or previous
end
local function before_or_same(a, b)
  return #a < #b or (#a == #b and a <= b)
end
local moved = {}
for i = 1, tonumber(ARGV[2]) do
  local v = redis.call('LPOP', KEYS[1])
  if not v then break end
  moved[#moved + 1] = v
end
if #moved > 0 then
  local tail = redis.call('LINDEX', KEYS[2], -1)
  if (not tail) or before_or_same(seq_of(tail, '0'), seq_of(moved[1], '0')) then
    for i = 1, #moved do redis.call('RPUSH', KEYS[2], moved[i]) end
  else
    local archive = redis.call('LRANGE', KEYS[2], 0, -1)
    redis.call('DEL', KEYS[2])
    local i, j, sa, sm = 1, 1, '0', '0'
    while i <= #archive or j <= #moved do
      if i <= #archive then sa = seq_of(archive[i], sa) end
      if j <= #moved then sm = seq_of(moved[j], sm) end
      if j > #moved or (i <= #archive and before_or_same(sa, sm)) then
        redis.call('RPUSH', KEYS[2], archive[i]); i = i + 1
      else
        redis.call('RPUSH', KEYS[2], moved[j]); j = j + 1
      end
    end
  end
end
"""
    + _TTL_LUA
    + "\nreturn moved\n"
)

# Remove and return the active message at index ARGV[2] (negative counts from the end), or nil.
DELETE_AT_LUA = (
    """
local v = redis.call('LINDEX', KEYS[1], ARGV[2])
if not v then return false end
local marker = '__deleted__' .. ARGV[3]
redis.call('LSET', KEYS[1], ARGV[2], marker)
redis.call('LREM', KEYS[1], 1, marker)
redis.call('SET', KEYS[4], '1')
"""
    + _TTL_LUA
    + "\nreturn v\n"
)
