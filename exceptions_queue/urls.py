app_name = "exceptions_queue"

urlpatterns: list = []
