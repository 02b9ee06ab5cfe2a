"""Providers by kind: the SDK-backed ones are imported only when a plan uses them."""

from __future__ import annotations

import os

from tokenmaxx.agents.plan_models import ProviderConfig
from tokenmaxx.agents.providers.base import Provider, ProviderFailure


class MissingKey(ProviderFailure):
    """The environment variable that should hold a provider's API key is not set."""

    def __init__(self, provider: str, env_var: str) -> None:
        super().__init__(
            "auth",
            f"provider {provider!r} needs an API key: set the environment variable {env_var}",
            retryable=False,
        )


def make_provider(name: str, config: ProviderConfig) -> Provider:
    """Build the provider `name` of the plan; raises MissingKey when its key is not set.

    An OpenAI-compatible server at a `base_url` is keyless unless the plan names `api_key_env`;
    a variable the plan names must be set.
    """
    if config.kind == "sim":
        from tokenmaxx.agents.providers.sim import SimProvider

        return SimProvider(name, price_as=config.price_as, speed=config.speed, seed=config.seed)
    env_var = config.key_env or ""
    key = os.environ.get(env_var, "")
    keyless = config.api_key_env is None and config.base_url is not None and config.kind == "openai"
    if not key and keyless:
        key = "local"  # OpenAI-compatible local servers (Ollama, vLLM) take any non-empty key
    if not key:
        raise MissingKey(name, env_var)
    if config.kind == "anthropic":
        from tokenmaxx.agents.providers.anthropic import AnthropicProvider

        return AnthropicProvider(name, api_key=key, api_key_env=env_var, base_url=config.base_url, headers=config.headers)
    from tokenmaxx.agents.providers.openai import OpenAIProvider

    return OpenAIProvider(name, api_key=key, api_key_env=env_var, base_url=config.base_url, headers=config.headers)
