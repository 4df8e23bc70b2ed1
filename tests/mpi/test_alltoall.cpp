// The personalised all-to-all that moves atoms between ranks once: every rank sends each other
// rank a different number of records (rank s sends rank d exactly s + d + 1 of them), so counts,
// displacements and the senders' order all show when wrong; and the guard on MPI's int counts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "parallel/alltoall.hpp"
#include "parallel/mpi_env.hpp"
#include "util.hpp"

namespace symgnn {
namespace {

struct Tagged {
  std::int32_t from, to, serial;
};

TEST(Alltoall, EachRankGetsItsRecordsInTheSendersOrderWithTheirCounts) {
  const int p = mpi::size(), me = mpi::rank();
  std::vector<std::vector<Tagged>> out(static_cast<std::size_t>(p));
  for (int d = 0; d < p; ++d)
    for (int i = 0; i < me + d + 1; ++i) out[static_cast<std::size_t>(d)].push_back({me, d, i});
  std::vector<int> counts;
  const auto got = alltoall_records(MPI_COMM_WORLD, out, &counts, "test records");
  ASSERT_EQ(counts.size(), static_cast<std::size_t>(p));
  std::size_t k = 0;
  for (int s = 0; s < p; ++s) {
    EXPECT_EQ(counts[static_cast<std::size_t>(s)], s + me + 1) << "from rank " << s;
    for (int i = 0; i < s + me + 1; ++i, ++k) {
      ASSERT_LT(k, got.size());
      EXPECT_EQ(got[k].from, s);
      EXPECT_EQ(got[k].to, me);
      EXPECT_EQ(got[k].serial, i);
    }
  }
  EXPECT_EQ(k, got.size());
}

TEST(Alltoall, CountsBeyondMpisIntsAreRefusedNamingWhatAndWhichWay) {
  const auto too_many = static_cast<std::size_t>(INT_MAX) + 1;
  EXPECT_NO_THROW(check_int_count(static_cast<std::size_t>(INT_MAX), "send", "ghost atoms"));
  const std::string msg =
      test::error_message([&] { check_int_count(too_many, "receive", "ghost atoms"); });
  EXPECT_THAT(msg, ::testing::HasSubstr("ghost atoms: 2147483648 records to receive"));
  EXPECT_THAT(msg, ::testing::HasSubstr("more than MPI's int counts hold"));
}

}  // namespace
}  // namespace symgnn
