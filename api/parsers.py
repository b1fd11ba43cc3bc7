"""The API's JSON parser: DRF's, plus a clean 400 for pathologically nested documents
(``[[[[…`` makes Python's decoder raise RecursionError, which DRF would let become a 500)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
