from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self):
        from core import tenancy

        from .selectors import visible_payment_methods

        tenancy.register_choices("payments.hostpaymentmethod", visible_payment_methods)
        tenancy.register_paths({
            "payments.payment": "booking__property",
            "payments.paymentevent": "payment__booking__property",
            "payments.refund": "payment__booking__property",
            "payments.manualpayment": "booking__property",
            "payments.manualpaymentevent": "payment__booking__property",
            "payments.paymentschedule": "property",
            "payments.paymentplan": "booking__property",
            "payments.savedcard": "booking__property",
            "payments.securitydeposit": "booking__property",
            "payments.securitydepositevent": "deposit__booking__property",
        })
