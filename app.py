from flask import Flask, Request, session
from wsgi_analytics.flask import Analytics

app = Flask(__name__)
app.secret_key = "change me"
app.config["WSGI_ANALYTICS"] = {
    "redis_url": "redis://127.0.0.1:43777/0",
    "throttle": {"limit": 5, "window": 3600},  # or a Throttle(...)
    "trusted_proxies": 1,  # one reverse proxy in front of the app
    "exclude": ["/static/", "/healthz"],  # never counted (the throttle still applies)
}
analytics = Analytics(app)


def is_admin(request: Request) -> bool:
    return session.get("role") == "admin"  # Flask-Login: current_user.is_authenticated and ...


analytics.dashboard("/analytics", auth=is_admin)


@app.get("/")
def home() -> str:
    return "<h1>Hello</h1>"


@app.post("/signup")
def signup() -> str:
    analytics.recorder.track("signups", "pro")
    return "<p>Welcome</p>"
