"""`flowkit ui`: a read-only web app over a datastore (local, or a mounted PVC of a cluster's runs).

Needs the ``ui`` extra (``pip install 'flowkit[ui]'``: Starlette and uvicorn). The pages are plain server-rendered
HTML with inline SVG pictures, so they need no JavaScript bundle and no network.
"""
