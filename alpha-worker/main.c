/* adnet-alpha: the Alpha chain worker, started by `adnet run`. */
#include "alpha-worker/alpha_chain.h"
#include "common/runtime/worker.h"

int main(int argc, char **argv)
{
    return worker_main(argc, argv, &alpha_chain_ops);
}
