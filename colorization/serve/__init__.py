"""The web page and HTTP API (FastAPI on uvicorn, the serve extra): app.py create_app(models, settings), api.py the
routes, models.py the models offered by name, photos.py the photos kept between requests, server.py uvicorn on a
bound socket, client.py a small client for tests and the load benchmark, static/ the page."""
