// libpq (Debian libpq-dev), PostgreSQL's own client library: the records of a service that runs
// on several machines.
#include <libpq-fe.h>
