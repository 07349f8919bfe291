// The --help text. It lists the registered forecasters, so it lives apart from the parser
// (experiment/config.cpp), which links alone (the fuzz target tools/fuzz.sh builds needs only it).
#include "experiment/config.hpp"

#include <cstring>
#include <string>

#include "experiment/forecaster.hpp"
#include "experiment/nowcast.hpp"

namespace twp {

std::string usage_text() {
    std::string defaults;
    for (const std::string& key : forecaster_registry().default_keys()) defaults += (defaults.empty() ? "" : ",") + key;
    std::string text = R"(twp: can a transformer forecast how a network's weights evolve during training?

usage: twp [--mode MODE] [options]

modes (--mode, default full):
  full              train_base, then train_predictor, evaluate, extrapolate and plugin_test,
                    all into one results folder
  train_base        train LeNet-5 on MNIST --num_runs times and save weight snapshots
  train_predictor   fit the PCA and train the transformer on the snapshots in --snapshot_dir
  evaluate          one-step prediction MSE of --model_path on the test windows, with baselines
  extrapolate       multi-step autoregressive extrapolation from each run's first test window
  plugin_test       extrapolation, then the predicted weights scored inside LeNet-5
  nowcast           train LeNet-5 jumping to a forecaster's prediction every few snapshots,
                    against plain SGD with the same seeds: steps and time to target accuracies

base training (the reference project's flags and defaults):
  --training_epochs N     epochs per run (alias --base_epochs)                  [20]
  --snapshots_per_epoch N snapshots per epoch, evenly spaced, the last at the
                          end of the epoch (aliases --saves_per_epoch,
                          --snapshot_frequency)                                 [1]
  --num_runs N            independent runs; run r is seeded random_seed+r-1     [3]
  --random_seed N         seed of run 1 (and of the predictor)                  [42]
  --snapshot_dir DIR      runs live in DIR/training_runs/run_<r>/               [./data/snapshots]
                          (one twp at a time writes there: DIR/.twp.lock)
  --base_learning_rate LR SGD's learning rate, fixed in the reference (momentum
                          0.9, weight decay 5e-4)                               [0.005]
  --train_base            legacy spelling of --mode train_base
predictor (the reference's flags and defaults):
  --sequence_length K     snapshots in a window (at most 32 on the GPU)         [3]
  --train_split F         per run, the first int(n*F) snapshots are train       [0.5]
  --batch_size N          windows per batch                                     [32]
  --apply_pca             reduce the weights with PCA first (without it the transformer is
                          61,706 wide and refused beyond --max_width)
  --n_components N        PCA components, capped at the train snapshot count    [500]
  --learning_rate LR      seed's Adam learning rate                             [1e-4]
  --predictor_epochs N    seed's epochs                                         [100]
  --extrapolation_steps N steps of the multi-step test                          [5]
  --model_path FILE       the evaluation modes' predictor (models/seed_best.safetensors or
                          transformer_best.safetensors of a results folder: the forecaster the
                          file records is evaluated; pca.safetensors is read from beside it)
  --results_dir DIR       where results/experiment_<time>/ folders go           [./results]
  --num_layers N  --nhead N  --dim_feedforward N  --dropout P
                          the encoder, as the reference: 6, auto (8, else 5, else the largest
                          divisor up to 8), 2048, 0.1
the honest protocol (twp's own; the reference selects its model on the test windows):
  --forecasters LIST      the forecasters evaluated side by side, comma-separated, from
                          AVAILABLE_FORECASTERS
                          [DEFAULT_FORECASTERS]
  --validation_fraction F the last ceil(F*n) of each run's n train windows are validation
                          windows: models, epochs and hyperparameters are chosen on them [0.2]
  --selection validation|test
                          what the transformers' best epoch is chosen on; test is the
                          reference's protocol (optimistic), labelled so in the summary [validation]
  --split time|runs|both  time: each run's first snapshots train, the rest test (the
                          reference's); runs: hold out one run at a time, fitting the PCA and
                          every forecaster on the others; both: report both   [time]
  --repeats N             the whole experiment N times, repeat i seeded random_seed+1000(i-1)
                          (its snapshots in <snapshot_dir>/repeat_<i>); every figure reported
                          as the mean over repeats with its 95% interval            [1]
  --sweep FLAG=V1,V2 [FLAG=V1,V2 ...]
                          run every cell of the grid as its own experiment, reusing base
                          training where the base flags agree, and tabulate them
  --jobs N                sweep cells run at once                               [1]
the diffusion forecaster (diffusion: samples the next snapshot given the last k):
  --samples S             draws per forecast; point figures use their mean, the spread is
                          scored by coverage and CRPS, the plug-in test scores every draw [32]
  --diffusion_steps N     DDIM steps per draw (deterministic sampler; 1..1000)   [50]
nowcasting (--mode nowcast): the forecasters are fitted on the runs of --snapshot_dir (trained
there first where missing: --num_runs, at least 2), then --repeats seeds, seeded
random_seed+100+i, train as plain SGD and once per forecaster with jumps:
  --forecasters LIST      (or --forecaster NAME) the nowcasters   [NOWCASTERS]
  --nowcast_every N       SGD steps between jumps, at least; a jump happens at a snapshot, once
                          --sequence_length snapshots were taken since the last one
                                                                    [the snapshot interval]
  --nowcast_horizon H     a jump goes to the forecast H snapshot intervals ahead     [1]
  --nowcast_momentum keep|reset|rescale
                          the momentum buffer at a jump: kept, zeroed, or set to the velocity
                          that covers the jump in the steps it skips                 [keep]
  --targets LIST          test accuracies (percent) to count steps to     [98.0,98.5,99.0]
  --resume                continue the most recent unfinished nowcast under --results_dir
beyond the reference (off by default):
  --target next|delta     seed's target: the next snapshot, or its difference to the last [next]
  --standardize           scale seed's PCA scores by their train mean and std (a std below
                          1% of the largest is floored there)
  --max_width N           refuse transformers wider than N                      [4096]
resuming after a crash:
  --resume                with train_base or full: continue each run from the checkpoint
                          taken with its last snapshot (runs already complete are skipped,
                          runs not started start afresh); with train_predictor or full: continue
                          the most recent unfinished predictor training under --results_dir in
                          its own folder. Give the same flags as the interrupted command: the
                          result is bit for bit what it would have been without the crash.
                          Base runs are checkpointed at every snapshot, the predictor at most
                          every 30 s and after its last epoch. Without --resume, base
                          training starts afresh and replaces the snapshots in --snapshot_dir.
data and machine:
  --dataset NAME          mnist | fashion-mnist                                 [mnist]
  --data_dir DIR          IDX files (raw or .gz)                                [data/<dataset>]
  --no_cuda               never use a GPU
  --device N              the CUDA device to use                                [0]
  --tf32                  TF32 tensor cores for the GPU's matrix products: faster, but
                          products keep 10 mantissa bits, so GPU and CPU results no longer
                          agree to fp32 rounding                                 [off]
  --threads N             CPU threads, exactly N; without it base training picks
                          1..all cores from its steps' times (a shared machine)  [all cores]
  --help                  this text

Fetch the data first with tools/fetch-data.sh [--dataset fashion-mnist].
)";
    std::string available;
    for (const auto& entry : forecaster_registry().entries()) available += (available.empty() ? "" : ", ") + entry.key;
    text.replace(text.find("AVAILABLE_FORECASTERS"), std::strlen("AVAILABLE_FORECASTERS"), available);
    text.replace(text.find("DEFAULT_FORECASTERS"), std::strlen("DEFAULT_FORECASTERS"), defaults);
    std::string nowcasters;
    for (const std::string& key : default_nowcasters()) nowcasters += (nowcasters.empty() ? "" : ",") + key;
    text.replace(text.find("NOWCASTERS"), std::strlen("NOWCASTERS"), nowcasters);
    return text;
}

}  // namespace twp
