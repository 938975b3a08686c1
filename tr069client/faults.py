"""CWMP fault codes and the one exception that carries them (TR-069 A.5.1); no I/O."""

# TR-069 Table 74 (CPE fault codes); the strings are what an operator reads.
MESSAGES = {
    9000: "Method not supported",
    9001: "Request denied",
    9002: "Internal error",
    9003: "Invalid arguments",
    9004: "Resources exceeded",
    9005: "Invalid parameter name",
    9006: "Invalid parameter type",
    9007: "Invalid parameter value",
    9008: "Attempt to set a non-writable parameter",
    9009: "Notification request rejected",
    9010: "File transfer failure",
    9011: "Upload failure",
    9012: "File transfer server authentication failure",
    9013: "Unsupported protocol for file transfer",
    9014: "File transfer failure: unable to join multicast group",
    9015: "File transfer failure: unable to contact file server",
    9016: "File transfer failure: unable to access file",
    9017: "File transfer failure: unable to complete download",
    9018: "File transfer failure: file corrupted",
    9019: "File transfer failure: file authentication failure",
    9020: "File transfer failure: unable to complete download within specified time windows",
    9021: "Cancelation of file transfer not permitted in current transfer state",
    9022: "Invalid UUID format",
}

METHOD_NOT_SUPPORTED = 9000
REQUEST_DENIED = 9001
INTERNAL_ERROR = 9002
INVALID_ARGUMENTS = 9003
RESOURCES_EXCEEDED = 9004
INVALID_NAME = 9005
INVALID_TYPE = 9006
INVALID_VALUE = 9007
NOT_WRITABLE = 9008
NOTIFICATION_REJECTED = 9009
TRANSFER_FAILURE = 9010
UPLOAD_FAILURE = 9011
SERVER_AUTH_FAILURE = 9012
UNSUPPORTED_PROTOCOL = 9013
CANNOT_CONTACT_SERVER = 9015
CANNOT_ACCESS_FILE = 9016
CANNOT_COMPLETE_DOWNLOAD = 9017
FILE_CORRUPTED = 9018
FILE_AUTH_FAILURE = 9019
CANCEL_NOT_PERMITTED = 9021


class CwmpFault(Exception):
    """A refusal of something the ACS asked; `details` lists per-parameter faults of SPV."""

    def __init__(self, code, message=None, details=()):
        self.code = code
        self.message = message or MESSAGES.get(code, "Fault")
        # (parameter name, code, message) triples: SetParameterValuesFault entries.
        self.details = list(details)
        super().__init__("%d %s" % (code, self.message))
