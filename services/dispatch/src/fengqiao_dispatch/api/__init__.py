from .dispatch import router as dispatch_router
from .orders import router as orders_router

routers = [orders_router, dispatch_router]
