"""The ASGI entry point uvicorn imports (`interfaces.http.main:app`); settings from the environment."""

from interfaces.http.app import create_app
from interfaces.logging import configure

configure()

app = create_app()
