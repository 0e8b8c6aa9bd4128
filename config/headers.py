"""The Content Security Policy of every page (django-csp 4; docs/security.md "Headers").

Every page's scripts and style sheets are Throughline's own static files (htmx vendored, no
inline script or event handler: config/static/throughline/app.js); style attributes (bar
widths, spacing) are allowed, style elements are not. The API docs pages widen it for Swagger
UI and ReDoc only (config/api_v1.py).
"""

from csp.constants import NONE, SELF, UNSAFE_INLINE

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
