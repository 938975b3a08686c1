"""What each CWMP namespace's schema holds (cwmp-1-0, 1-1, 1-2): the CPE methods, the fault
codes and the enumerations an answer may carry; no I/O. Dispatch, GetRPCMethods, faults,
GetAllQueuedTransfers and TransferComplete all read this one table, so that every answer is
valid in the namespace it is sent in."""

from .faults import INTERNAL_ERROR, INVALID_ARGUMENTS, REQUEST_DENIED, TRANSFER_FAILURE, UPLOAD_FAILURE
from .soap import CWMP_NAMESPACES

CWMP_1_0, CWMP_1_1, CWMP_1_2 = CWMP_NAMESPACES

# The CPE methods (requests an ACS may send) that each schema defines.
_AMENDMENT_1 = frozenset((
    "GetRPCMethods", "SetParameterValues", "GetParameterValues", "GetParameterNames",
    "SetParameterAttributes", "GetParameterAttributes", "AddObject", "DeleteObject", "Reboot",
    "Download", "Upload", "FactoryReset", "GetQueuedTransfers", "ScheduleInform", "SetVouchers",
    "GetOptions"))
METHODS = {CWMP_1_0: _AMENDMENT_1}
METHODS[CWMP_1_1] = METHODS[CWMP_1_0] | frozenset(("GetAllQueuedTransfers",))
METHODS[CWMP_1_2] = METHODS[CWMP_1_1] | frozenset(("ScheduleDownload", "CancelTransfer", "ChangeDUState"))

# cwmp:Fault FaultCode: 9000 up to this, and the vendor range 9800-9899, in every schema.
_LAST_FAULT = {CWMP_1_0: 9013, CWMP_1_1: 9019, CWMP_1_2: 9799}
# A code a namespace lacks becomes the nearest older one; the fault string keeps the detail.
_OLDER = {9021: REQUEST_DENIED, 9022: INVALID_ARGUMENTS}

# TransferComplete FaultCode (FaultStruct): explicit codes, plus ranges, and 9800-9899 in 1-1, 1-2.
_TRANSFER_CODES = {CWMP_1_0: (frozenset((0, 9001, 9002, 9010, 9011, 9012)), ())}
_TRANSFER_CODES[CWMP_1_1] = (_TRANSFER_CODES[CWMP_1_0][0] | frozenset(range(9014, 9020)),
                             ((9020, 9799), (9800, 9899)))
_TRANSFER_CODES[CWMP_1_2] = (_TRANSFER_CODES[CWMP_1_1][0] | frozenset((9020,)),
                             ((9033, 9799), (9800, 9899)))

# cwmp-1-1's AllQueuedTransferStruct FileType numbers the kinds of file once for Download and
# Upload alike; cwmp-1-2 takes each RPC's own FileType, instance number included.
_AMENDMENT_2_FILE_TYPES = {name.partition(" ")[2]: name for name in (
    "1 Firmware Upgrade Image", "2 Web Content", "3 Vendor Configuration File", "4 Vendor Log File")}


def methods(ns):
    """The CPE methods an ACS may call in the namespace `ns`."""
    return METHODS[ns]


def fault_code(ns, code):
    """`code` as a cwmp:Fault in `ns` can carry it."""
    if 9000 <= code <= _LAST_FAULT[ns] or 9800 <= code <= 9899:
        return code
    if code in _OLDER:
        return _OLDER[code]
    return TRANSFER_FAILURE if 9014 <= code <= 9020 else INTERNAL_ERROR


def transfer_code(ns, code, upload=False):
    """`code` as a TransferComplete in `ns` can carry it: else the general failure of its kind."""
    codes, ranges = _TRANSFER_CODES[ns]
    if code in codes or any(low <= code <= high for low, high in ranges):
        return code
    return UPLOAD_FAILURE if upload else TRANSFER_FAILURE


def queued_file_type(ns, file_type):
    """The FileType of a GetAllQueuedTransfers entry as `ns` enumerates it."""
    if ns != CWMP_1_1 or file_type.startswith("X "):
        return file_type
    name = file_type.partition(" ")[2]
    head, _, last = name.rpartition(" ")
    if head and last.isdigit():    # "3 Vendor Configuration File 2": the instance form of 1-2
        name = head
    return _AMENDMENT_2_FILE_TYPES.get(name, file_type)
