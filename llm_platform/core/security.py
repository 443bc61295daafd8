"""Who is asking: roles, credentials, participant tokens, and the rules of `Principal`.

Three roles in every mode. A *participant* reads and writes only their own data; a
*researcher* also runs experiments and reads the data of their experiments' participants; an
*admin* reads everything. Researchers and admins hold API keys (`lp_...`). Participants hold a
server-issued signed token (`pt_...`, minted on first contact in `AUTH_MODE=open`) or a key
of the participant role; a client-named id (`X-User-ID`) identifies a participant only where
the operator opts in (`TRUST_CLIENT_USER_ID`, the original Next.js client's mode).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer

from llm_platform.core.errors import BadRequest, Forbidden, NotFound, Unauthorized

API_KEY_PREFIX = "lp_"
PARTICIPANT_TOKEN_PREFIX = "pt_"
# One rule for every user id, wherever it comes from (header, token, key, body).
USER_ID_PATTERN = r"^[A-Za-z0-9._:@\-]{1,128}$"

NO_IDENTITY = (
    "Who is asking? Send 'Authorization: Bearer <token or key>': participants get a token "
    "from POST /api/v1/auth/participant, researchers and admins use an API key"
)


class Role(StrEnum):
    PARTICIPANT = "participant"
    RESEARCHER = "researcher"
    ADMIN = "admin"

    @classmethod
    def of_key(cls, stored: str) -> Role:
        """A key's stored role; "user" is the name of keys made before roles had names (such a
        key could run experiments, as a researcher does)."""
        if stored == "user":
            return cls.RESEARCHER
        return cls(stored)


class Credential(StrEnum):
    KEY = "key"  # an API key
    TOKEN = "token"  # a signed participant token
    CLAIMED = "claimed"  # a client-named id (TRUST_CLIENT_USER_ID): nothing proves it
    NONE = "none"  # nobody


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ParticipantTokens:
    """Signed participant tokens: `pt_` + the user id signed with the server's secret.

    Stateless, so every instance sharing the secret accepts them; forging one needs the
    secret. The user id inside is chosen by the server (`new_participant_id`)."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="llm-platform.participant")
        self._secret = secret.encode("utf-8")

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A stable keyed hash (HMAC-SHA256, hex) of `value` for `purpose`: pseudonyms of
        recruitment ids, which nobody without the server's secret can recompute."""
        message = purpose.encode("utf-8") + b"\x00" + value.encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def issue(self, user_id: str) -> str:
        return PARTICIPANT_TOKEN_PREFIX + str(self._serializer.dumps({"u": user_id}))

    def verify(self, token: str) -> str:
        """The token's user id; Unauthorized for anything not minted by this server."""
        if not token.startswith(PARTICIPANT_TOKEN_PREFIX) or len(token) > 512:
            raise Unauthorized("Invalid participant token")
        try:
            data = self._serializer.loads(token[len(PARTICIPANT_TOKEN_PREFIX) :])
        except BadSignature:
            raise Unauthorized("Invalid participant token") from None
        user_id = data.get("u") if isinstance(data, dict) else None
        if not isinstance(user_id, str) or not user_id:
            raise Unauthorized("Invalid participant token")
        return user_id


PARTICIPANT_ID_PREFIX = "p-"


def new_participant_id() -> str:
    return PARTICIPANT_ID_PREFIX + secrets.token_hex(12)


def is_token_participant(user_id: str) -> bool:
    """Ids minted for token holders: never claimable by naming them (X-User-ID)."""
    return user_id.startswith(PARTICIPANT_ID_PREFIX)


def _claimable(requested: str) -> str:
    if is_token_participant(requested):
        raise Forbidden("This user id belongs to a participant with a token: send the token")
    return requested


@dataclass(frozen=True)
class Principal:
    """The caller.

    `user_id` is None for a caller who named nobody. Such a caller may only name a user in
    a request (`acting_user`) where the server trusts client-named ids (`may_claim`); reads
    of anything need an identity.
    """

    user_id: str | None
    role: Role = Role.PARTICIPANT
    credential: Credential = Credential.NONE
    may_claim: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_staff(self) -> bool:
        """A researcher or an admin."""
        return self.role is not Role.PARTICIPANT

    @property
    def authenticated(self) -> bool:
        """Proved by a key or a signed token (not merely named)."""
        return self.credential in (Credential.KEY, Credential.TOKEN)

    def require_identity(self) -> None:
        """Someone is named (or, where client-named ids are trusted, may be)."""
        if self.user_id is None and not self.may_claim:
            raise Unauthorized(NO_IDENTITY)

    def acting_user(self, requested: str | None) -> str:
        """The user an action is done for: the requested one if the caller may name it."""
        if self.user_id is None:
            if requested is not None and self.may_claim:
                return _claimable(requested)
            raise Unauthorized(NO_IDENTITY)
        if requested is None or requested == self.user_id:
            return self.user_id
        if self.is_admin:
            return requested
        if self.credential is Credential.CLAIMED:
            raise BadRequest("user_id in the request differs from the X-User-ID header")
        raise Forbidden("A key or token may only act for its own user")

    def acting_as(self, requested: str | None) -> Principal:
        """This caller acting for `requested` (by the rules of `acting_user`); itself when
        nobody is named. For endpoints whose body cannot carry the user as JSON (uploads)."""
        if requested is None:
            return self
        user_id = self.acting_user(requested)
        if user_id == self.user_id:
            return self
        credential = Credential.CLAIMED if self.user_id is None else self.credential
        return replace(self, user_id=user_id, credential=credential)

    def user_filter(self, requested: str | None) -> str | None:
        """For listings: whose objects to show (None = everyone's, for admins only)."""
        if self.is_admin:
            return requested
        if self.user_id is None:
            if requested is not None and self.may_claim:
                return _claimable(requested)
            raise Unauthorized(NO_IDENTITY)
        if requested is not None and requested != self.user_id:
            raise Forbidden("Only your own data can be read with this key or token")
        return self.user_id

    def own_session_id(self, session_id: str) -> str:
        """A session id a key or token holder chooses lives in their own namespace,
        `<user id>:...`: whether another user holds some id is then never theirs to find out
        (a start with a taken id would answer 409 where a free one answers 201). Admins and
        trusted client-named ids choose freely (the original client picks bare UUIDs)."""
        if self.is_admin:
            return session_id
        if self.authenticated and self.user_id is not None:
            if not session_id.startswith(self.user_id + ":"):
                raise BadRequest(
                    f"session_id: ids you choose start with '{self.user_id}:' "
                    "(or leave it out and the server picks one)"
                )
        elif is_token_participant(session_id):
            raise BadRequest(
                "session_id: ids starting with 'p-' belong to participants with tokens"
            )
        return session_id

    def can_access(self, owner_id: str) -> bool:
        if self.is_admin:
            return True
        if self.user_id is None:
            # Trusted client-named ids (the original client's mode), nobody named: the
            # client's unguessable object id is what it holds, as the old backend had it;
            # never for the objects of token holders.
            return self.may_claim and not is_token_participant(owner_id)
        return owner_id == self.user_id

    def check_owner(self, owner_id: str, what: str) -> None:
        """Another user's object answers exactly like a missing one: no existence leak."""
        self.require_identity()
        if not self.can_access(owner_id):
            raise NotFound(f"{what} not found")

    def require_staff(self) -> str:
        """Researchers and admins only (experiments, analytics, cross-user reads)."""
        if self.user_id is None:
            raise Unauthorized(NO_IDENTITY)
        if not self.is_staff:
            raise Forbidden("This needs a researcher or admin API key")
        return self.user_id

    def require_admin(self) -> None:
        if self.user_id is None:
            raise Unauthorized(NO_IDENTITY)
        if not self.is_admin:
            raise Forbidden("This needs an admin API key")
