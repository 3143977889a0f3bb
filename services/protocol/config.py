"""Settings of the protocol service, read from PROTOCOL_* variables."""

from typing import Annotated

from fastapi import Depends
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, app_settings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROTOCOL_")


SettingsDep = Annotated[Settings, Depends(app_settings)]
