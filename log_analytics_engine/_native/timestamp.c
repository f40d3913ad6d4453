/*
 * ISO 8601 timestamps -> UTC instants: the common shapes parsed here, exactly as
 * datetime.fromisoformat(s).timestamp() (UTC when naive); anything else is handed back to
 * the Python parser (model/timeparse.py).
 */
#include "_native.h"

static int64_t
days_from_civil(int64_t y, int m, int d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
digits(const unsigned char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* The common ISO 8601 shapes: YYYY-MM-DD[(T|space)HH:MM[:SS[(.|,)f{1,6}]]][Z|±HH:MM|±HHMM].
 * Returns 1 and the instant (exactly datetime.fromisoformat(s).timestamp(), UTC when
 * naive), or 0 for anything else (the caller then uses the Python parser). */
int
parse_iso(const unsigned char *s, Py_ssize_t n, double *out)
{
    int year, month, day, hour = 0, minute = 0, second = 0, micro = 0;
    Py_ssize_t p = 10;
    if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &year) ||
        !digits(s + 5, 2, &month) || !digits(s + 8, 2, &day))
        return 0;
    if (year < 1700 || year > 2200 || month < 1 || month > 12 || day < 1)  /* exact in µs */
        return 0;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[month - 1] + (month == 2 && leap))
        return 0;
    if (p < n && (s[p] == 'T' || s[p] == ' ')) {
        if (n < p + 6 || s[p + 3] != ':' || !digits(s + p + 1, 2, &hour) ||
            !digits(s + p + 4, 2, &minute))
            return 0;
        p += 6;
        if (p < n && s[p] == ':') {
            if (n < p + 3 || !digits(s + p + 1, 2, &second))
                return 0;
            p += 3;
            if (p < n && (s[p] == '.' || s[p] == ',')) {
                Py_ssize_t q = p + 1;
                while (q < n && s[q] >= '0' && s[q] <= '9')
                    q++;
                int nd = (int)(q - p - 1);
                if (nd < 1 || nd > 6)
                    return 0;
                digits(s + p + 1, nd, &micro);
                for (int i = nd; i < 6; i++)
                    micro *= 10;
                p = q;
            }
        }
        if (hour > 23 || minute > 59 || second > 59)
            return 0;
    }
    int64_t offset = 0;
    if (p < n && p == 10)
        return 0;  /* a zone after a bare date: Python reads "+0530" as a time there */
    if (p < n) {
        if ((s[p] == 'Z' || s[p] == 'z') && p + 1 == n) {
            p += 1;
        } else if (s[p] == '+' || s[p] == '-') {
            int oh, om;
            if (n == p + 6 && s[p + 3] == ':' && digits(s + p + 1, 2, &oh) &&
                digits(s + p + 4, 2, &om)) {
            } else if (n == p + 5 && digits(s + p + 1, 2, &oh) && digits(s + p + 3, 2, &om)) {
            } else {
                return 0;
            }
            if (oh > 23 || om > 59)
                return 0;
            offset = (int64_t)(oh * 3600 + om * 60) * (s[p] == '-' ? -1 : 1);
            p = n;
        } else {
            return 0;
        }
    }
    if (p != n)
        return 0;
    int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                   second - offset;
    int64_t us = secs * 1000000 + micro;
    /* datetime.timestamp() divides the exact microseconds by 10**6 (correctly rounded):
     * us is below 2**53 here, so the double division gives the same value. */
    *out = (double)us / 1e6;
    return 1;
}

PyObject *
py_parse_iso(PyObject *module, PyObject *arg)
{
    if (!PyUnicode_Check(arg) || !PyUnicode_IS_ASCII(arg))
        Py_RETURN_NONE;
    double instant;
    if (!parse_iso((const unsigned char *)PyUnicode_DATA(arg), PyUnicode_GET_LENGTH(arg),
                   &instant))
        Py_RETURN_NONE;
    return PyFloat_FromDouble(instant);
}
