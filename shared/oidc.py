"""The city's OpenID provider, found by its discovery document when first needed."""

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from shared.settings import ServiceSettings

log = structlog.get_logger()


class ProviderUnavailable(Exception):
    """The provider did not answer, or not sensibly: signing in and fetching its keys must wait."""


class ProviderMetadata(BaseModel):
    """What visitdesk reads of the discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None


class Provider:
    """The provider of `settings.oidc_issuer`; its document is kept once read, and read again when asked to."""

    def __init__(self, settings: ServiceSettings):
        if settings.oidc_issuer is None or settings.discovery_url is None:
            raise ValueError("a provider needs VISITDESK_OIDC_ISSUER")
        self.issuer, self.url = settings.oidc_issuer, settings.discovery_url
        self.known: ProviderMetadata | None = None

    async def metadata(self, *, fresh: bool = False) -> ProviderMetadata:
        """The discovery document; `fresh` asks the provider again (and so checks that it answers)."""
        if self.known is not None and not fresh:
            return self.known
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                response = await http.get(self.url)
                response.raise_for_status()
            found = ProviderMetadata.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            log.warning("oidc.discovery_failed", error=type(exc).__name__)
            raise ProviderUnavailable("the provider's discovery document could not be read") from exc
        if found.issuer != self.issuer:  # a misconfiguration: every token would be refused for its `iss`
            log.error("oidc.issuer_mismatch", configured=self.issuer, announced=found.issuer)
            raise ProviderUnavailable("the discovery document names another issuer")
        self.known = found
        return found
