/* adnet-delta: the Delta chain worker, started by `adnet run`. */
#include "common/runtime/worker.h"
#include "delta-worker/delta_chain.h"

int main(int argc, char **argv)
{
    return worker_main(argc, argv, &delta_chain_ops);
}
