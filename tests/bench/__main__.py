from tests.bench import bench_storage_core

bench_storage_core.main()
