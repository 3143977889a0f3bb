"""Settings of the capacity service, read from CAPACITY_* variables."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CAPACITY_")
